from adapters.webchat.adapter import Adapter

__all__ = ["Adapter"]
