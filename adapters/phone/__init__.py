from adapters.phone.adapter import Adapter

__all__ = ["Adapter"]
