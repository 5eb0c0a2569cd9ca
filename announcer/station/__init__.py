"""The station: plays the plan on the loudspeaker.

daemon (the timetable and `announcer run`) → playqueue (one broadcast at a time)
→ players (paplay, aplay, ffplay…); control serves the socket the page talks to,
by_hand plays for the page when no station runs.
"""
