"""Dataset formats (COCO, Pascal VOC, YOLO, Label Studio): Qt-free readers and writers."""
