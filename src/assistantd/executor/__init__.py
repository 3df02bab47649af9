"""The run executor: context building (truncation), chunk accumulation, the run loop."""
