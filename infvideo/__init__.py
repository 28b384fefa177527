"""infvideo: training-free long-video understanding with a continuous-time long-term memory."""

__version__ = "0.1.0"
