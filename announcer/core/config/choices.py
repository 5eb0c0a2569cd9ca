"""The names schedule.toml may use for engines, voices and players: the settings know them
without loading an engine or looking for a player."""

ENGINE_NAMES = ("kokoro", "piper", "pyttsx3", "espeak-ng")
# The languages each engine speaks, and the voices a neural one has (espeak-ng has many).
LANGUAGES = {"kokoro": ("zh",), "piper": ("en",), "pyttsx3": ("zh", "en"), "espeak-ng": ("zh", "en")}
VOICES = {
    "kokoro": ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"),
    "piper": ("en_US-joe-medium",),
}
# English stays with espeak-ng: through a whole build Whisper got 0.010 of its letters wrong, 0.025 of
# Piper's (bench/clarity.py); Piper is one setting away: engines = { en = "piper" }.
DEFAULT_ENGINES = {"zh": "kokoro", "en": "espeak-ng"}

PLAYER_NAMES = ("paplay", "pw-play", "aplay", "ffplay", "null")
