from adapters.email.adapter import Adapter

__all__ = ["Adapter"]
