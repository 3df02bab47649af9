"""The web console at /console: a small static app (vanilla JS, no build) using the public API
with the signed-in key, plus one aggregate the API has no endpoint for (usage)."""
