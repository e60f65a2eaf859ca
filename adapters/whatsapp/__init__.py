from adapters.whatsapp.adapter import Adapter

__all__ = ["Adapter"]
