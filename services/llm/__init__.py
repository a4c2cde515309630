"""The model proxy: one API over Gemini, OpenAI(-compatible) endpoints and an offline provider."""
