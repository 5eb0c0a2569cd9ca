"""The morning job: the day's notices → clean clips in the library.

notices → check → speakable → engines → speech → effects → day (publish), and
beside them recording (`announcer import`) and export (clips onto a USB stick).
"""
