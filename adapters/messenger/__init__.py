from adapters.messenger.adapter import Adapter

__all__ = ["Adapter"]
