"""The defaults of the options a user sets, in one place: ``RunOptions``, the readers and
writers, the Dask distributor, the exporter and the CLI's ``--help`` all read them here. Plain
numbers, no imports: the CLI loads this module to build its options."""

BATCH_SIZE = 16  # --batch-size: images per inference batch
WORKERS = 4  # --workers: threads for decoding and for encoding/writing
QUALITY = 95  # --quality: JPEG and WebP outputs
# --png-compression, zlib's level for PNG outputs. Pillow's default, 6, takes 2.2x the time of 4 on
# a 3000x2000 photo for files 6 % smaller (1.7 s against 0.75 s, 3.0 against 3.2 MB); 1 is faster
# still but 20 % larger. Encoding was most of a run's time on scans.
PNG_COMPRESSION = 4
MAX_PIXELS = 100_000_000  # --max-pixels: the one size limit (decompression-bomb guard)
CRF = 18  # --crf: video outputs' constant quality, x264's "visually lossless" end of the scale
RETRIES = 2  # --retries: tries again of a Dask task that failed or lost its worker
OPSET = 18  # export --opset
EXPORT_VIVIDNESS = 0.5  # export --default-vividness: the vividness `run` uses when none is given
