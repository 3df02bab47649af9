"""Moving a project's data in and out: `assistantd import` reads the export format users made
of their OpenAI data (docs/export-format.md), keeping the ids; `assistantd export` writes it."""
