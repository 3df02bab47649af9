"""Server-side tools a run can call: the ToolRunner protocol and the tools' chat definitions."""
