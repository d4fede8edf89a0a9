"""The architectures' names, in one place and torch-free (the CLI builds its choices from them
without importing PyTorch); ``colorbatch.train.models`` registers a constructor under each, and a
test checks that the two agree."""

CHROMA_UNET = "chroma-unet"
CHROMA_BINS = "chroma-bins"
CHROMA_BINS_HINTS = "chroma-bins-hints"  # chroma-bins with the hint layers: what the bundled model is
SEED_UNET = "seed-unet"  # the original recipe's network
CHROMA_ENSEMBLE = "chroma-ensemble"  # made by `colorbatch ensemble`, never trained as such

TRAINABLE = (CHROMA_UNET, CHROMA_BINS, SEED_UNET)  # `colorbatch train --arch`
REGISTERED = (*TRAINABLE, CHROMA_BINS_HINTS, CHROMA_ENSEMBLE)
FLIPPABLE = (CHROMA_UNET, CHROMA_ENSEMBLE, CHROMA_BINS)  # `colorbatch export --test-flip`
IMPORTABLE = (CHROMA_BINS, CHROMA_BINS_HINTS)  # `colorbatch import-onnx`: exports that come back as checkpoints
