"""The v1 Assistants API (`OpenAI-Beta: assistants=v1`), served from the same store as v2.

Objects are stored in their v2 form; v1 is a face at the HTTP boundary. A v1 request is turned
into the equivalent v2 request (file_ids become tool_resources and attachments, `retrieval`
becomes `file_search`) and what comes back is shown in v1's shapes (shapes.py). The mapping:

* assistant `file_ids` (<= 20) are `tool_resources.code_interpreter.file_ids` (v1's files serve
  every tool); with the `retrieval` tool they are also the files of the assistant's own vector
  store (named "<assistant id> files"), kept in step by every v1 write (files.py);
* message `file_ids` (<= 10) are attachments for both `code_interpreter` and `file_search`
  (so they land in the thread's own store, as v2 attachments do);
* a run's `file_ids` are its assistant's; a run that hit a token budget (`incomplete`, which v1
  does not know) is shown `completed` with `incomplete_details`, as the v1 spec says;
* citations carry v1's `file_citation.quote`; `retrieval` tool calls are `{"retrieval": {}}`.
"""
