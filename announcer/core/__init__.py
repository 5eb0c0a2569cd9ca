"""The ground floor: what the morning job, the station and the page all stand on.

config/ (schedule.toml), library (the clips on disk), plan (the schedule → what plays
when, a pure function), playlog (what was broadcast), control (the station's socket
protocol), logs (where log lines go), leftovers (what killed processes left behind),
errors, textfile and tomlpos (reading users' files). Nothing here imports from a
floor above.
"""
