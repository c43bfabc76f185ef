"""Datasets: the registry (where files come from, checksums, lookup, download) and readers."""
from .formats import (read_cifar_batches, read_coco_json, read_idx, read_image_folder, read_lines,  # noqa: F401
                      read_parallel_text, read_text, read_tsv, read_voc_xml, read_yolo_txt)
from .registry import REGISTRY, USED, DataError, DataFile, DatasetSpec, all_or_none, available, fetch, find, record_local, require, roots  # noqa: F401
