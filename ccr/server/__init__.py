"""The aiohttp application: the app factory, middlewares, authentication, life cycle and handlers."""
