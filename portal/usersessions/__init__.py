"""The session policy: idle timeout, absolute lifetime, and each user's list of sessions."""
