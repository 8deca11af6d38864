"""Translation, summarization, code generation and legal review. Filled in by the tools issue."""
