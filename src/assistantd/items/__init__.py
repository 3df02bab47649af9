"""Items: the unit of Responses and Conversations (messages, function calls and their outputs,
tool calls), shared by both, with the conversion of request input into stored items."""
