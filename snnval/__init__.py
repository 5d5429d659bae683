"""snnval: cross-simulator validation and regression suite for spiking neural network simulators."""

__version__ = "0.1.0"
