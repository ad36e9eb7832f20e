"""How uploaded files are received, for every view (``FILE_UPLOAD_HANDLERS`` in settings).

Django spools an upload over 2.5 MB to a temporary file named after the upload's
extension, so a file name whose extension runs to hundreds of characters made any
multipart POST, even an anonymous one to the login page, fail with "File name too
long" (a 500). The temporary file is named by the portal instead; the client's file
name is kept on the upload, cut to 255 characters by Django, and used for nothing.
"""

from django.core.files.uploadhandler import TemporaryFileUploadHandler


class ShortNameTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, "upload", *args, **kwargs)
        self.file.name = file_name  # shown as the upload's name, not used for the path
