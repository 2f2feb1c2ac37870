"""The two front doors' wire formats: Anthropic Messages and OpenAI chat completions.

Sans-IO mappings between each client format and the hub (claude-code-router's unified,
OpenAI-chat-shaped request and reply that transformers work on):

    request.to_unified(body, model)      Anthropic request  -> hub request
    reply.to_message(unified, ...)       hub reply          -> Anthropic message
    events.anthropic_events(chunks, ...) hub chunks         -> Anthropic stream events
    openai_in / openai_out               OpenAI chat request and reply <-> the same pipeline
"""
