"""Bounds that a spec's values and the command line share, importable without torch: the CLI's
option ranges are built when it starts, and ``orchestrate leaderboard`` starts in a third of a
second."""

# The square sides the data path holds: a dataset is held decoded in memory, and one 2048 px
# image already takes 12 MiB (a CIFAR-10 training set 150 MiB in all).
MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 8, 2048
