"""The expert-knowledge store: cited cards, the hazard vocabulary, retrieval and checks."""

from hvrmet.knowledge.model import Card, Condition, Hazard, Reference
from hvrmet.knowledge.store import KnowledgeError, KnowledgeStore, default_store, knowledge_dir

__all__ = ["Card", "Condition", "Hazard", "Reference", "KnowledgeError", "KnowledgeStore",
           "default_store", "knowledge_dir"]
