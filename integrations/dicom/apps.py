from django.apps import AppConfig


class DicomConfig(AppConfig):
    name = "integrations.dicom"
    label = "dicom"
    verbose_name = "PACS by DICOM (C-STORE, STOW-RS)"

    def ready(self):
        import logging

        from integrations.dicom import cstore, stow
        from portal.outbound import kinds

        # pynetdicom logs each association's every step at INFO (five lines per object
        # sent); the outcome is on the transmission's row. Its warnings and errors stay,
        # and a LOGGING entry for "pynetdicom" still decides when there is one.
        pynetdicom_log = logging.getLogger("pynetdicom")
        if pynetdicom_log.level == logging.NOTSET:
            pynetdicom_log.setLevel(logging.WARNING)

        kinds.register(
            kinds.Kind(
                key="dicom",
                label="DICOM C-STORE",
                carries=kinds.IMAGES | kinds.REPORT,
                send=cstore.send,
                test=cstore.echo,
                describe=cstore.describe,
                options=(
                    kinds.Option(
                        "host", "Host", required=True, help="The PACS's host name or address."
                    ),
                    kinds.Option(
                        "port",
                        "Port",
                        type="int",
                        default=cstore.DEFAULT_PORT,
                        help="The PACS's DICOM port (often 104 or 11112).",
                    ),
                    kinds.Option(
                        "called_ae",
                        "Called AE title",
                        required=True,
                        max_length=16,
                        help="The PACS's own AE title, as its administrators gave it.",
                        check=cstore.check_ae_title,
                    ),
                    kinds.Option(
                        "calling_ae",
                        "Calling AE title",
                        default=cstore.DEFAULT_CALLING_AE,
                        max_length=16,
                        help="The portal's AE title, as the PACS knows it.",
                        check=cstore.check_ae_title,
                    ),
                    kinds.Option(
                        "tls",
                        "TLS",
                        type="bool",
                        default=False,
                        help="Encrypt the connection (the PACS's certificate is checked).",
                    ),
                ),
                help="Sends each image, clip and report to a PACS by DICOM C-STORE; "
                "the test is a C-ECHO.",
                help_template="dicom/destination_help.html",
            )
        )
        kinds.register(
            kinds.Kind(
                key="dicomweb",
                label="DICOMweb STOW-RS",
                carries=kinds.IMAGES | kinds.REPORT,
                send=stow.send,
                test=stow.check,
                describe=stow.describe,
                options=(
                    kinds.Option(
                        "url",
                        "DICOMweb URL",
                        type="url",
                        required=True,
                        help="The service's base address, e.g. https://pacs.example.org/dicom-web",
                        check=stow.check_url,
                    ),
                ),
                secret_label="Bearer token",
                secret_flag="--token",
                help="Sends each image, clip and report to a PACS by DICOMweb STOW-RS; "
                "the test is a QIDO-RS search.",
                help_template="dicom/destination_help.html",
            )
        )
