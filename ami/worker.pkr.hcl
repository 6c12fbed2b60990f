# The edgecloud worker AMI: Ubuntu 24.04 + the edgecloud wheel in a pinned
# venv + baked detector weights + the systemd unit that starts the worker at boot.
#
#   pip wheel --no-deps -w dist .
#   packer init ami/worker.pkr.hcl
#   packer build -var version=0.1.0 -var wheel=dist/edgecloud-0.1.0-py3-none-any.whl ami/worker.pkr.hcl

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "Region the AMI is built and registered in (the stack's region)."
}

variable "instance_type" {
  type        = string
  default     = "c6i.large"
  description = "Instance type of the temporary build instance."
}

variable "version" {
  type        = string
  description = "edgecloud version baked in; part of the AMI name."
}

variable "wheel" {
  type        = string
  description = "Path of the edgecloud wheel to install (pip wheel --no-deps -w dist .)."
}

variable "models" {
  type        = string
  default     = "fasterrcnn_mobilenet_v3_large_320_fpn"
  description = "Comma-separated torchvision detection models whose weights are baked in."
}

variable "subnet_id" {
  type        = string
  default     = null
  description = "Subnet for the build instance; null uses the default VPC."
}

source "amazon-ebs" "worker" {
  region        = var.region
  instance_type = var.instance_type
  subnet_id     = var.subnet_id
  ami_name      = "edgecloud-worker-${var.version}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  ami_description = "edgecloud worker ${var.version}: pinned venv, baked detector weights, edgecloud-worker.service"

  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["099720109477"] # Canonical
    most_recent = true
  }
  ssh_username = "ubuntu"

  # Workers launched from the AMI get an encrypted root volume and IMDSv2 only.
  encrypt_boot = true
  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 16
    volume_type           = "gp3"
    delete_on_termination = true
  }

  tags = {
    Name             = "edgecloud-worker-${var.version}"
    "edgecloud:role" = "worker-image"
    version          = var.version
    source_ami       = "{{ .SourceAMI }}"
  }
}

build {
  sources = ["source.amazon-ebs.worker"]

  # Let first-boot cloud-init finish (it runs apt too) before provisioning.
  provisioner "shell" {
    inline = ["sudo cloud-init status --wait > /dev/null || true", "mkdir -p /tmp/edgecloud"]
  }

  provisioner "file" {
    sources = [
      var.wheel,
      "${path.root}/requirements.lock",
      "${path.root}/edgecloud-worker.service",
      "${path.root}/edgecloud-controller.service",
    ]
    destination = "/tmp/edgecloud/"
  }

  provisioner "shell" {
    script           = "${path.root}/provision.sh"
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    environment_vars = ["EDGECLOUD_SRC=/tmp/edgecloud", "EDGECLOUD_MODELS=${var.models}"]
  }

  # Nothing of the build is left behind: no wheel, no cloud-init state from the build boot.
  provisioner "shell" {
    inline = ["sudo rm -rf /tmp/edgecloud", "sudo cloud-init clean --logs"]
  }

  post-processor "manifest" {
    output     = "var/ami/manifest.json"
    strip_path = true
  }
}
