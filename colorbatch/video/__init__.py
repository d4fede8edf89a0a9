"""Video and frame sequences, the optional subsystem (the ``video`` extra brings PyAV).

- ``io``: reading and writing video files (PyAV), which files are videos;
- ``clips``: a clip (a video or a ``--sequence`` folder) through the model, frame by frame;
- ``temporal``: holding colour steady between frames (the stabiliser, shot cuts);
- ``flow``: optical flow (OpenCV's DIS) and warping, for the stabiliser and the warping error;
- ``keyframes``: colour frames a person gives, named as the frames they stand for.
"""
