"""/conversations: a durable list of items that responses read and append to."""
