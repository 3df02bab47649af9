"""Server-side tools a run can call: the ToolRunner protocol (`base.py`), the code interpreter
(`code_interpreter/`: the Docker sandbox and its runner) and file search (`file_search.py`)."""
