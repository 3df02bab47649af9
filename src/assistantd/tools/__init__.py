"""Server-side tools a run can call: the ToolRunner protocol (base.py), the code interpreter
(code_interpreter/) and, later, file search."""
