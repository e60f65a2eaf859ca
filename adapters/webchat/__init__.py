from adapters.webchat.adapter import Adapter, Publish

__all__ = ["Adapter", "Publish"]
