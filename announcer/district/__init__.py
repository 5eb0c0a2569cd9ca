"""A station's side of the district: its link to the office's MQTT broker.

- link.py   StationLink: connects with [network], keeps its status (presence by last will), takes the office's
            day notices and urgent notices, and sends every play-log record back at least once.

What it keeps under `<out>/.district/` (the office's notices of each day, the urgent notices seen, the records
sent), building a day with the office's notices and speaking an urgent one are announcer.build.district's, so
that the web page's builds include the office's notices too.

On the floor of announcer.web and announcer.station: it uses announcer.build and announcer.core, and reaches the
running station only through its control socket (announcer.core.control).
"""
