"""The machine a run meets: Keras backend, device, TensorFlow's environment, the console,
the speed table and the doctor report."""
