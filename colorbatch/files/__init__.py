"""Files on disk: finding them (a lazy walk, sharding, pairing two trees), decoding inputs and
encoding outputs, atomic writes, whether an output is whole, video files as files."""
