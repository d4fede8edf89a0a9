"""Running a model: which ONNX Runtime build is there, what a model file says about itself
(``modelinfo``), vividness as decoding inputs, the ONNX Runtime session, and ``ColorModel``: a
model in use, luminance in, chroma out."""
