"""Data preparation: records to NER spans, embeddings inputs and LLM conversations."""
