"""The Anthropic edge: the only code that knows the Anthropic Messages wire format.

    request.to_unified(body, model)      Anthropic request  -> unified (OpenAI chat) request
    reply.to_message(unified, ...)       unified reply      -> Anthropic message
    events.anthropic_events(chunks, ...) unified chunks     -> Anthropic stream events
"""
