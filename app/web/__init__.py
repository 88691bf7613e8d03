"""The web layer: the Gradio chat UI, the JSON API and the help-page widget, on one ASGI app."""
