"""Release records: who received what, at which generalization, under which terms.

The book records; it never decides who may receive (governance does, and
writes the record in the transaction of its release step).
"""

from custodes.release._records import ReleaseBook, ReleaseRecord

__all__ = ["ReleaseBook", "ReleaseRecord"]
