"""Adapters to the stores: MongoDB (documents), Milvus (vectors). Chosen by URI, as Gorse's data.Open does."""
