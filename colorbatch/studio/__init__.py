"""The colour studio (``colorbatch studio``, the ``studio`` extra): a batch reviewed and steered in
the browser. ``catalog`` is the batch as the studio sees it (every photo and clip of the plan that
``run`` would make, with its state), ``app`` the local HTTP server over it (token, loopback hosts
only, files reached only through the plan's ids)."""
