"""Plan outputs: small classes with one ``run(states)`` each (Table, Markdown, Json)."""
