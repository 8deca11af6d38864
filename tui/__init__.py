"""The Textual chat app. Until it lands, `lorebook chat` is a streaming terminal REPL."""
