"""Your own documents in: sources (files, folders, tables) read into documents, and long
documents cut into passages measured in the encoder's own tokens."""
