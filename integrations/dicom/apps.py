from django.apps import AppConfig


class DicomConfig(AppConfig):
    name = "integrations.dicom"
    label = "dicom"
    verbose_name = "PACS by DICOM (C-STORE, STOW-RS)"

    def ready(self):
        pass
