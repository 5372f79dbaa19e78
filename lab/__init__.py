"""icelab: measures how WebRTC calls recover through ICE restart."""

__version__ = "0.1.0"
