"""The thread lock: while a run on a thread is active, no message can be added and no other run
created. Beneath runs and messages, which both check it."""
