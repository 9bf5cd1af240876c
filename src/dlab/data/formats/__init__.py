"""Files as Keras leaves them and as users bring them: the download cache, .npz readers,
CIFAR-10's pickles and Fashion-MNIST's idx files, and which layout a path is."""
