from adapters.telegram.adapter import Adapter

__all__ = ["Adapter"]
